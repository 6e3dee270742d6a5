{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_changed_units() }}",
) }}

-- one row per accepted value: unit, period, indicator; only indicators that apply to the unit.
-- A steward's latest correction replaces the submitted value (or supplies a missing one);
-- `corrected` and `submitted_value` show where that happened
-- depends_on: {{ ref('int_units_changed') }}
with accepted as (
    select * from {{ ref('int_submissions_accepted') }}
    where {{ changed_units_only() }}
),

positioned as not materialized (
    -- each value with its indicator's bit in a mask (`place`, tonghop.validate.MASK_PLACES);
    -- read twice, not stored: writing it costs more than reading the values again
    select v.submission_id, v.indicator_code, v.value, c.place,
    from {{ ref('stg_tonghop__values') }} as v
    left join {{ ref('stg_tonghop__catalog_indicators') }} as c on c.code = v.indicator_code
    {% if is_incremental() %}
    where v.submission_id in (select submission_id from accepted)
    {% endif %}
),

repeated as (
    -- the submissions that may hold a code twice: more values than distinct bits (a code
    -- outside the catalog has none, two codes sharing a bit only make more submissions looked
    -- at below): grouping every value by submission and code would cost a full aggregate of
    -- the values for the few files that write a code twice
    select submission_id,
    from positioned
    group by submission_id
    having count(*) > coalesce(bit_count(bit_or(1::hugeint << place::hugeint)), 0)
),

submitted as (
    -- one value per submission and indicator: a value written twice in a file (the
    -- duplicate_value error, when a steward accepts it) counts once; two different values
    -- count as none until a steward corrects it (never summed twice)
    select submission_id, indicator_code, value,
    from positioned
    anti join repeated using (submission_id)
    union all
    select
        submission_id,
        indicator_code,
        case when min(value) = max(value) then min(value) end as value,
    from positioned
    semi join repeated using (submission_id)
    group by all
),

corrections as (
    select
        submission_id,
        indicator_code,
        arg_max(after_value, seq) as value,
    from {{ ref('stg_tonghop__value_corrections') }}
    group by all
),

values_corrected as (
    select
        coalesce(v.submission_id, c.submission_id) as submission_id,
        coalesce(v.indicator_code, c.indicator_code) as indicator_code,
        coalesce(c.value, v.value) as value,
        v.value as submitted_value,
        c.submission_id is not null as corrected,
    from submitted as v
    full join corrections as c
        on c.submission_id = v.submission_id and c.indicator_code = v.indicator_code
),

catalog as (
    select * from {{ ref('stg_tonghop__catalog_indicators') }}
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
        v.submitted_value,
        v.corrected,
    from accepted as a
    join values_corrected as v using (submission_id)
    join catalog as c on c.code = v.indicator_code
    where v.value is not null
        and (c.sectors is null or list_contains(c.sectors, a.sector))
        and (c.forms is null or list_contains(c.forms, a.form))
)

select * from final
