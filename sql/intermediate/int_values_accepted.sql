-- one row per accepted value: unit, period, indicator; only indicators that apply to the unit
with accepted as (
    select * from int_submissions_accepted
),

submitted as (
    select * from stg_tonghop__values
),

catalog as (
    select * from catalog_indicators
),

final as (
    select
        a.submission_id,
        a.unit_code,
        a.period,
        a.ordinal,
        a.role,
        a.sector,
        a.form,
        v.indicator_code,
        v.value,
    from accepted as a
    join submitted as v using (submission_id)
    join catalog as c on c.code = v.indicator_code
    where v.value is not null
        and (c.sectors is null or list_contains(c.sectors, a.sector))
        and (c.forms is null or list_contains(c.forms, a.form))
)

select * from final
