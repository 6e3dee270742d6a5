-- one row per snapshot (start: the day before the range; cutoff: the range's last day):
-- the registry's TCCSĐ by form and by sector (the bloc committee, form dang_uy_khoi, is a unit
-- of the registry but not a TCCSĐ)
with periods as (
    select * from {{ ref('stg_tonghop__run_periods') }}
),

units as (
    select * from {{ ref('stg_registry__units') }} where form in ('dang_bo', 'chi_bo')
),

snapshot_days as (
    select 'start' as measure, min(period_start) - interval 1 day as snapshot_day
    from periods where role = 'range'
    union all
    select 'cutoff' as measure, max(period_end) as snapshot_day
    from periods where role = 'range'
),

active as (
    select d.measure, u.*
    from snapshot_days as d
    join units as u
        on u.valid_from <= d.snapshot_day
        and (u.valid_to is null or u.valid_to >= d.snapshot_day)
),

final as (
    select
        measure,
        count(*) as units,
        count(*) filter (where form = 'dang_bo') as dang_bo,
        count(*) filter (where form = 'chi_bo') as chi_bo,
        count(*) filter (where sector = 'agency') as agency,
        count(*) filter (where sector = 'soe') as soe,
        count(*) filter (where sector = 'private') as private,
        count(*) filter (where sector = 'industrial_zone') as industrial_zone,
    from active
    group by measure
)

select * from final
