"""What the benchmark scripts measure, one module per measure; the scripts themselves parse
the options, run the measures in order and print the report.

scripts/bench: cold (cold start), warm (warm list_products), flash (flash sale), pay_notify
(WeChat Pay notify), group_join (group-buy join), over common (the function measured, shoppers,
merchant calls, threads released together).

scripts/bench_nearby: nearby_data (the generated stores, deals and queries), nearby_baselines
(the brute forces, in memory and reading the database), nearby_measure (ours vs a baseline,
every answer compared, summarised) and nearby_index_build (the one-off index builds).

The set-up all three scripts share (environment, logs, throwaway database, statistics, the
report) is scripts/benchkit.py. As there, nothing of the shop is imported at module level: the
scripts set the environment before the shop reads its settings.
"""
