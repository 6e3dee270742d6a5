{{ config(materialized='view') }}

-- one row per period, sector, form and indicator: the sum of the accepted values, the units that
-- reported the indicator and the units whose value is 1. A unit has one current submission a
-- period and it one value an indicator (int_values_accepted), so counting rows counts units;
-- the reporting groups sum these cells (int_reporting_groups). Sums are exact decimals (6
-- places, as in every model that adds values): the same total to the last digit whatever order
-- the rows come in, which a sum of doubles does not promise
with accepted_values as (
    select * from {{ ref('int_values_accepted') }}
),

final as (
    select
        period,
        sector,
        form,
        indicator_code,
        sum(cast(value as decimal(38, 6))) as value_sum,
        count(*) as units_reporting,
        count(*) filter (where value = 1) as units_true,
    from accepted_values
    group by all
)

select * from final
