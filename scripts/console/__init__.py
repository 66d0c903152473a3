"""shopctl: the merchant console of the shop.

It speaks to a shop gateway over HTTP only (``POST <api>/api/<action>`` with the merchant
token), so it drives the dev gateway and a deployed API Gateway the same way. Only
``db init`` and ``db seed`` work on the database directly, through the shared library.

Money is entered in fen (1 yuan = 100 fen: 1250 means ¥12.50) and shown in yuan.
Exit codes: 0 done; 1 refused by the shop (or the console); 2 the gateway or database cannot
be reached, or the command line is wrong.

Layout: ``base`` (the gateway client and output), ``views`` (formatting and tables),
``options`` (options and parsers the groups share), ``charts`` (PNG files), one module per
command group, and ``app`` (the root command that puts the groups together).
"""
