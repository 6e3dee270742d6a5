{#
    An incremental model keyed by unit (int_values_accepted, int_unit_rate_parts) rebuilds only
    the rows of the units in int_units_changed: `delete_changed_units` (its pre-hook) deletes
    them, `changed_units_only` keeps only them in what it selects, which is then appended. A
    unit whose rows vanished (now blocked, its submission rejected) is deleted and not
    re-inserted, which a merge on a unique key would miss. The model must also declare
    `-- depends_on: {{ ref('int_units_changed') }}`: dbt parses it as a full build, where these
    macros read nothing.
#}

{% macro delete_changed_units() %}
    {% if is_incremental() %}
        delete from {{ this }}
        where unit_code in (select unit_code from {{ ref('int_units_changed') }})
    {% endif %}
{% endmacro %}

{% macro changed_units_only(column='unit_code') %}
    {% if is_incremental() %}
        {{ column }} in (select unit_code from {{ ref('int_units_changed') }})
    {% else %}
        true
    {% endif %}
{% endmacro %}
