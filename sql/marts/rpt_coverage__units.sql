-- one row per unit expected in a period of the range: included, blocked by an error finding,
-- or missing; `corrected` when a steward's correction changed an included value, `pending` when
-- a blocked unit's findings await a decision the run's review pause did not get
with periods as (
    select * from {{ ref('stg_tonghop__run_periods') }} where role = 'range'
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

current_submissions as (
    select * from {{ ref('int_submissions_current') }}
),

accepted as (
    select * from {{ ref('int_submissions_accepted') }}
),

expected as (
    select u.unit_code, u.name, u.sector, u.form, p.period, p.ordinal
    from units as u
    join periods as p
        on u.valid_from <= p.period_end
        and (u.valid_to is null or u.valid_to >= p.period_end)
),

reviewed_findings as (
    select * from {{ ref('int_findings_reviewed') }}
),

corrections as (
    select submission_id, list(distinct indicator_code order by indicator_code) as indicators
    from {{ ref('int_values_accepted') }}
    where corrected
    group by submission_id
),

pending as (
    select distinct submission_id
    from reviewed_findings
    where pending and review_state = 'open'
),

error_rules as (
    select submission_id, list(distinct rule_id order by rule_id) as rules
    from {{ ref('stg_tonghop__findings') }}
    where severity = 'error' and submission_id is not null
    group by submission_id
),

final as (
    select
        e.*,
        c.submission_id,
        c.file_name,
        case
            when a.submission_id is not null then 'included'
            when c.submission_id is null then 'missing'
            else 'blocked'
        end as status,
        coalesce(r.rules, []) as error_rules,
        k.submission_id is not null as corrected,
        coalesce(k.indicators, []) as corrected_indicators,
        a.submission_id is null and p.submission_id is not null as pending,
    from expected as e
    left join current_submissions as c using (unit_code, period)
    left join accepted as a on a.submission_id = c.submission_id
    left join error_rules as r on r.submission_id = c.submission_id
    left join corrections as k on k.submission_id = a.submission_id
    left join pending as p on p.submission_id = c.submission_id
)

select * from final
