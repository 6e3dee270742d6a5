{{ config(materialized='view') }}

-- one row per accepted value and reporting group: the bloc, the unit's sector, the unit's form.
-- Three times int_values_accepted: the marts sum int_values_cells instead; the trace
-- (tonghop.explain) reads the few rows of one figure from here
with accepted_values as (
    select * from {{ ref('int_values_accepted') }}
),

groups as (
    select * from {{ ref('int_reporting_groups') }}
),

final as (
    select v.*, g.group_type, g.group_value
    from accepted_values as v
    join groups as g using (sector, form)
)

select * from final
