{{ config(materialized='view') }}

-- one row per submission and finding the run's review pause left waiting for a decision
with source as (
    select * from {{ source('tonghop', 'review_pending') }}
),

final as (
    select
        submission_id,
        finding_key,
    from source
)

select * from final
