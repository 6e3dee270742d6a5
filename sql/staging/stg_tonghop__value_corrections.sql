{{ config(materialized='view') }}

-- one row per correction of a value by a steward, in the order they were made (`seq`)
with source as (
    select * from {{ source('tonghop', 'value_corrections') }}
),

final as (
    select
        seq,
        submission_id,
        indicator_code,
        before_value,
        after_value,
    from source
)

select * from final
