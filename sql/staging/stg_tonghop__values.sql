{{ config(materialized='view') }}

-- one row per received value
with source as (
    select * from {{ source('tonghop', 'submitted_values') }}
),

final as (
    select
        submission_id,
        indicator_code,
        value,
        raw_value,
        location,
        note,
    from source
    where raw_value <> ''
)

select * from final
