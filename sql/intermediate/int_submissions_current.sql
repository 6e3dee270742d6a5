{{ config(materialized='view') }}

-- one row per unit and period: the latest submission, which supersedes the earlier ones
with submissions as (
    select * from {{ ref('stg_tonghop__submissions') }}
),

ranked as (
    select
        *,
        row_number() over (partition by unit_code, period order by seq desc) as recency,
        count(*) over (partition by unit_code, period) as versions,
    from submissions
),

final as (
    select * exclude (recency)
    from ranked
    where recency = 1
)

select * from final
