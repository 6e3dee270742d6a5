{{ config(materialized='view') }}

-- one row per received submission: one unit and period of one received file
with source as (
    select * from {{ source('tonghop', 'submissions') }}
),

final as (
    select
        submission_id,
        sha256,
        unit_code,
        period,
        original_name as file_name,
        file_format,
        received_at,
        batch_id,
        seq,
    from source
)

select * from final
