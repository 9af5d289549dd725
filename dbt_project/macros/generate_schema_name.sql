{# Schemas are named by layer (staging, intermediate, control, ...), not prefixed with the
   target schema: BI users then find `control.control_daily` whatever target built it. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
