"""Infrastructure tests: the CDK app synthesized offline, checked with aws_cdk.assertions, cdk-nag and cfn-lint."""

import os

# Before anything starts jsii's Node.js process: Node 20 makes it print an end-of-life banner.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
