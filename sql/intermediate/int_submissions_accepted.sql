{{ config(materialized='view') }}

-- one row per unit and period of the run whose current submission passed every error rule, or
-- whose error findings a steward accepted or corrected, and whose unit belongs to the bloc at
-- the period's end; a submission with a rejected finding stays out whatever its severity
with current_submissions as (
    select * from {{ ref('int_submissions_current') }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

periods as (
    select * from {{ ref('stg_tonghop__run_periods') }}
),

reviewed_findings as (
    select * from {{ ref('int_findings_reviewed') }}
),

blocking as (
    select distinct submission_id
    from reviewed_findings
    where submission_id is not null
        and (
            (severity = 'error' and review_state not in ('accepted', 'corrected'))
            or review_state = 'rejected'
        )
),

final as (
    select
        s.*,
        u.sector,
        u.form,
        p.ordinal,
        p.role,
    from current_submissions as s
    join periods as p using (period)
    join units as u
        on u.unit_code = s.unit_code
        and u.valid_from <= p.period_end
        and (u.valid_to is null or u.valid_to >= p.period_end)
    where s.submission_id not in (select submission_id from blocking)
)

select * from final
