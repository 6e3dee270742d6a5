-- one row per unit and period of the run whose current submission passed every error rule
-- and whose unit belongs to the bloc at the period's end
with current_submissions as (
    select * from int_submissions_current
),

units as (
    select * from stg_registry__units
),

periods as (
    select * from run_periods
),

blocking as (
    select distinct submission_id
    from findings
    where severity = 'error' and submission_id is not null
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
