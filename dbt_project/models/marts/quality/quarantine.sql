-- Every input row kept out of the numbers, and why: what the loader set aside (with file and
-- line) plus the ads days and deals whose currency has no rate to the reporting currency (their
-- counts are kept, their money is not converted, so spend and revenue leave them out).
with

loader as (
    select
        table_name,
        source_file,
        line,
        column_name,
        problem,
        value,
        cast(null as {{ dbt.type_string() }}) as row_key,
        'row not loaded' as effect
    from {{ ref('stg_loader__quarantine') }}
),

ads_without_rate as (
    select
        'ads_daily' as table_name,
        stg._source_file as source_file,
        cast(null as {{ dbt.type_bigint() }}) as line,
        'currency' as column_name,
        {{ dbt.concat(["'no fx rate for '", 'ads.currency', "' on or before '", 'cast(ads.report_date as ' ~ dbt.type_string() ~ ')', "' in fx_rates'"]) }} as problem,
        ads.currency as value,
        {{ dbt.concat(["'date='", 'cast(ads.report_date as ' ~ dbt.type_string() ~ ')', "', platform='", 'ads.platform', "', account_id='", 'ads.account_id', "', campaign_id='", 'ads.campaign_id']) }} as row_key,
        'spend not converted (left out of spend and CAC)' as effect
    from {{ ref('int_ads_daily') }} as ads
    -- the incremental model keeps its columns; the file comes from staging
    left join {{ ref('stg_ads__campaign_days') }} as stg
        on ads.report_date = stg.report_date
        and ads.platform = stg.platform
        and ads.account_id = stg.account_id
        and ads.campaign_id = stg.campaign_id
    where ads.fx_rate is null
),

deals_without_rate as (
    select
        'crm_deals' as table_name,
        _source_file as source_file,
        cast(null as {{ dbt.type_bigint() }}) as line,
        'currency' as column_name,
        {{ dbt.concat(["'no fx rate for '", 'currency', "' on or before '", 'cast(valuation_date as ' ~ dbt.type_string() ~ ')', "' in fx_rates'"]) }} as problem,
        currency as value,
        {{ dbt.concat(["'deal_id='", 'deal_id']) }} as row_key,
        'amount not converted (left out of revenue)' as effect
    from {{ ref('int_deals_converted') }}
    where fx_rate is null
),

final as (
    select * from loader
    union all
    select * from ads_without_rate
    union all
    select * from deals_without_rate
)

select * from final
