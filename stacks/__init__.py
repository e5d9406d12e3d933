"""The CDK stacks of the deployment: one module per stack, reusable constructs in ``stacks.constructs``.

``stacks.deployment.Deployment`` composes them for one stage from ``stacks.settings.Settings``.
"""
