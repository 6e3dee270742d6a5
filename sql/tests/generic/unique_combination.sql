{#
    The rows of `model` are unique over `columns` together (a model's key), nulls included:
    what dbt_utils.unique_combination_of_columns checks, written here so the project needs no
    package download.
#}
{% test unique_combination(model, columns) %}

with keyed as (
    select {{ columns | join(', ') }}, count(*) as rows_with_key,
    from {{ model }}
    group by all
)

select *
from keyed
where rows_with_key > 1

{% endtest %}
