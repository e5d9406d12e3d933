"""The live console of the local system: a page at ``/_console`` on the local balancer.

:mod:`.collector` samples the nodes', workers' and queues' own figures about once a
second; :mod:`.routes` serves the page, a server-sent event stream of those samples and a
token for the page's API calls; :mod:`.admin` adds the ``/_cluster`` actions the page
offers; :mod:`.load` is the read load the page can start.
"""
