{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'quarantine'}}}) }}
-- Warns (the run goes on) when any input row was kept out of the numbers: the Dagster UI shows
-- this check in yellow on the `quarantine` asset, and the run log names how many rows.
select table_name, column_name, problem
from {{ ref('quarantine') }}
