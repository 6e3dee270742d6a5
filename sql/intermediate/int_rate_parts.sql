{{ config(materialized='view') }}

-- one row per accepted submission, reporting group and rate indicator: int_unit_rate_parts once
-- per group the unit belongs to (the trace reads it; the marts sum int_unit_rate_parts)
with unit_parts as (
    select * from {{ ref('int_unit_rate_parts') }}
),

groups as (
    select * from {{ ref('int_reporting_groups') }}
),

final as (
    select p.*, g.group_type, g.group_value
    from unit_parts as p
    join groups as g using (sector, form)
)

select * from final
