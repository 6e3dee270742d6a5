{{ config(materialized='view') }}

-- one row per steward decision on a finding, in the order they were taken (`seq`)
with source as (
    select * from {{ source('tonghop', 'review_actions') }}
),

final as (
    select
        seq,
        finding_key,
        action,
        state,
        acted_at,
    from source
)

select * from final
