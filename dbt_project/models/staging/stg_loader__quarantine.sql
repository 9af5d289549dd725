-- The loader's quarantine, as it wrote it: rows that parse but cannot be believed.
with

source as (
    select * from {{ source('raw', '_quarantine') }}
),

final as (
    select
        table_name,
        source_file,
        line,
        column_name,
        problem,
        value,
        loaded_at
    from source
)

select * from final
