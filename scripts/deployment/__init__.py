"""What the shop deploys to Tencent Cloud and how: the manifest (functions, namespaces, their
environments), the files generated from it (serverless.yml per namespace, cloudbaserc.json)
and scripts/deploy's plan/apply against the SCF API."""
