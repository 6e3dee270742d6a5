{#
    Each figure of the bloc equals the sum of the same figure over the groups of `group_type`
    (sector, form): a unit has one sector and one form, so what adds up for the bloc adds up by
    group. `by`: the columns naming one figure besides the group (period, indicator_code, ...).
    `additive_only`: only the indicators whose catalog aggregation adds up across units (sums,
    counts of units, distributions), not rates or weighted means. Equal within a millionth of the
    bloc's figure: each group's sum was cast to double on its own.
#}
{% test adds_up_to_bloc(model, column_name, by, group_type, additive_only=false) %}

with figures as (
    select *
    from {{ model }}
    {% if additive_only %}
    where regexp_replace(indicator_code, '__[0-9]+$', '') in (
        select code
        from {{ ref('stg_tonghop__catalog_indicators') }}
        where unit_aggregation in ('sum', 'count_true', 'distribution')
    )
    {% endif %}
),

bloc as (
    select {{ by | join(', ') }}, {{ column_name }} as bloc_figure,
    from figures
    where group_type = 'bloc'
),

groups as (
    select {{ by | join(', ') }}, sum({{ column_name }}) as groups_figure,
    from figures
    where group_type = '{{ group_type }}'
    group by all
),

compared as (
    select *
    from bloc
    full join groups using ({{ by | join(', ') }})
)

select *
from compared
where abs(coalesce(bloc_figure, 0) - coalesce(groups_figure, 0))
    > 1e-6 * greatest(1, abs(coalesce(bloc_figure, 0)))

{% endtest %}
