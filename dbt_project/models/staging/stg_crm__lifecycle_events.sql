-- Stage entries with the CRM's own stage names mapped onto lead/mql/sql/opportunity/customer.
with

source as (
    select * from {{ source('raw', 'crm_lifecycle_events') }}
),

latest as (
    {{ latest_rows('source', ['contact_id', 'stage', 'entered_at']) }}
),

stage_mapping as (
    select * from {{ ref('lifecycle_stage_mapping') }}
),

final as (
    select
        latest.contact_id,
        lower(latest.stage) as crm_stage,
        -- an unmapped stage is kept under its own name and counts towards no funnel step
        coalesce(stage_mapping.stage, lower(latest.stage)) as stage,
        stage_mapping.stage_order,
        latest.entered_at,
        cast(latest.entered_at as date) as entered_date,
        latest.source
    from latest
    left join stage_mapping
        on lower(latest.stage) = stage_mapping.crm_stage
    where latest._version_rank = 1
)

select * from final
