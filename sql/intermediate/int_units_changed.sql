-- one row per unit whose consolidated rows can differ from the last consolidation's
-- (consolidation_state, consolidation_findings, consolidation_corrections, which
-- tonghop.consolidate writes after each): a submission received since, a finding or review state
-- that changed, or a correction that changed. The incremental models rebuild these units' rows
-- (macros/changed_units.sql)
with submissions as (
    select * from {{ ref('stg_tonghop__submissions') }}
),

last_consolidation as (
    select max_seq from {{ source('tonghop', 'consolidation_state') }}
),

findings_now as (
    select * from {{ ref('int_findings_reviewed') }}
),

findings_then as (
    select * from {{ source('tonghop', 'consolidation_findings') }}
),

corrections_now as (
    select submission_id, count(*) as corrections, max(seq) as last_seq,
    from {{ ref('stg_tonghop__value_corrections') }}
    group by submission_id
),

corrections_then as (
    select * from {{ source('tonghop', 'consolidation_corrections') }}
),

findings_changed as (
    (select * from findings_now except all select * from findings_then)
    union all
    (select * from findings_then except all select * from findings_now)
),

corrections_changed as (
    (select * from corrections_now except all select * from corrections_then)
    union all
    (select * from corrections_then except all select * from corrections_now)
),

final as (
    select unit_code
    from submissions
    where seq > coalesce((select max(max_seq) from last_consolidation), -1)
    union
    select unit_code from findings_changed where unit_code is not null
    union
    select unit_code
    from submissions
    where submission_id in (select submission_id from findings_changed)
        or submission_id in (select submission_id from corrections_changed)
)

select * from final
