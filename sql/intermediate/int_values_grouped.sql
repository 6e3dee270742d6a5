-- materialized: view
-- one row per accepted value and reporting group: the bloc, the unit's sector, the unit's form
with accepted_values as (
    select * from int_values_accepted
),

final as (
    select *, 'bloc' as group_type, 'bloc' as group_value from accepted_values
    union all
    select *, 'sector' as group_type, sector as group_value from accepted_values
    union all
    select *, 'form' as group_type, form as group_value from accepted_values
)

select * from final
