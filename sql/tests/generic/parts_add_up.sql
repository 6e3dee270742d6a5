{# On every row, `column_name` equals the sum of the columns `parts` (a total and its parts). #}
{% test parts_add_up(model, column_name, parts) %}

select *
from {{ model }}
where {{ column_name }} <> {{ parts | join(' + ') }}

{% endtest %}
