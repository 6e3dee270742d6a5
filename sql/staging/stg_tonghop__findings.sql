{{ config(materialized='view') }}

-- one row per finding of the latest validation
with source as (
    select * from {{ source('tonghop', 'findings') }}
),

final as (
    select
        finding_key,
        run_id,
        unit_code,
        period,
        submission_id,
        rule_id,
        kind,
        severity,
    from source
)

select * from final
