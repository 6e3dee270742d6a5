{{ config(materialized='view') }}

-- one row per finding of the latest validation, with its review state: the state of the latest
-- review action on its key (open when there is none), and whether the run left it pending
with findings_current as (
    select * from {{ ref('stg_tonghop__findings') }}
),

actions as (
    select * from {{ ref('stg_tonghop__review_actions') }}
),

pending as (
    select distinct finding_key from {{ ref('stg_tonghop__review_pending') }}
),

latest as (
    select
        finding_key,
        arg_max(state, seq) as review_state,
        max(acted_at) as reviewed_at,
    from actions
    group by finding_key
),

final as (
    select
        f.finding_key,
        f.unit_code,
        f.period,
        f.submission_id,
        f.rule_id,
        f.kind,
        f.severity,
        coalesce(l.review_state, 'open') as review_state,
        l.reviewed_at,
        p.finding_key is not null as pending,
    from findings_current as f
    left join latest as l using (finding_key)
    left join pending as p using (finding_key)
)

select * from final
