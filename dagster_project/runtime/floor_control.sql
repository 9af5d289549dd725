-- The engine floor: control_daily and the web components computed from the raw landing files by
-- one hand-written DuckDB script, with no loader, no dbt and no Dagster. bench/pipeline.py times
-- it against the pipeline's full build on the same files; tests/e2e/test_floor_sql.py checks
-- that it gives the same numbers as main.control_daily, intermediate.int_components__web and
-- intermediate.int_components__page_load.
--
-- Run it with bench/pipeline.py's run_floor(), which replaces the placeholders:
--   ${ads_daily}, ${web_events}, ... a relation reading every file of DIR/raw/<table>/ with
--                                   read_csv (all columns as text) or read_parquet (native types),
--                                   plus a `filename` column: the file each row came from
--   ${seeds}                        the dbt project's seeds folder (the same mapping tables)
--   ${as_of}                        the night, YYYY-MM-DD; empty: the last day with any activity
-- The casts below are written so that they accept both the text of a CSV and a Parquet type.
--
-- What it reproduces: every column of control_daily (all 22 control metrics at day grain, per
-- channel and in total, zero-filled like int_metric_components, and is_complete_period). Input
-- checks are left out on purpose: the loader's validation is part of what the floor is compared
-- against, not part of the engine's work. Duplicates within one file (which the loader rejects)
-- are therefore not handled: only the file order decides which row wins. Two cases where the
-- pipeline's own result is arbitrary are not reproduced either: ads rows whose keys differ only
-- in the case of the platform (dbt's fx join keeps one of them at random, this script both),
-- and two fx rates of one day whose currencies differ only in case (either rate may be used,
-- in both). Nothing else of control_daily is left out.
--
-- It also reproduces the web components at every grain (web_components: sessions, engaged,
-- lead and direct/brand sessions, visitors and returning visitors at day, week and month, in
-- total, per channel and per campaign; the page-load p75 and its count in total and per
-- channel). They are the part of the pipeline's work that grows with the 22 M events of a
-- `large` year beyond control_daily's day grain: distinct visitors cannot be summed from days,
-- so every grain and dimension reads the sessions again. Until 2026-12-05 the floor stopped at
-- control_daily (docs/performance_analysis.md says what that changed).
--
-- dbt vars this script hard-codes (dbt_project/dbt_project.yml): reporting_currency USD,
-- engaged_session_min_msec 10000, calendar_max_days 4000, brand_campaign_pattern %brand%.

set TimeZone = 'UTC';

-- Like the loader: a text timestamp with an offset is converted to UTC and the zone dropped; a
-- Parquet timestamp is taken as it is (going through timestamptz would cost a time-zone
-- conversion per row for nothing).
create or replace temp macro ts(x) as
    case
        when typeof(x) = 'VARCHAR' then cast(cast(x as timestamptz) as timestamp)
        else cast(x as timestamp)
    end;
-- Like the loader: an empty string is a missing value.
create or replace temp macro txt(x) as nullif(cast(x as varchar), '');
-- The first day of a day's week (Monday) and month, as dbt's date_trunc gives them.
create or replace temp macro week_of(day) as cast(date_trunc('week', day) as date);
create or replace temp macro month_of(day) as cast(date_trunc('month', day) as date);

-- ------------------------------------------------------------------------------- mappings

create or replace temp table channel_mapping as
select * from read_csv('${seeds}/channel_mapping.csv', header = true);

create or replace temp table lead_source_channels as
select * from read_csv('${seeds}/lead_source_channels.csv', header = true);

create or replace temp table lifecycle_stage_mapping as
select * from read_csv('${seeds}/lifecycle_stage_mapping.csv', header = true);

create or replace temp table platform_channels as
select * from read_csv('${seeds}/platform_channels.csv', header = true);

-- ---------------------------------------------------------- raw files, the later file wins
-- Files are applied in name order, so for each key the row of the file that sorts last wins.
-- All files of a table sit in one folder, so the full path sorts like the name.

create or replace temp table ads as
with typed as (
    select
        cast(date as date) as report_date,
        txt(platform) as raw_platform,
        txt(account_id) as account_id,
        txt(campaign_id) as campaign_id,
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        cast(spend as double) as spend,
        upper(txt(currency)) as currency,
        cast(reactions as bigint) as reactions,
        cast(comments as bigint) as comments,
        cast(shares as bigint) as shares,
        filename
    from ${ads_daily}
)
select * exclude (filename)
from typed
qualify row_number() over (
    partition by report_date, raw_platform, account_id, campaign_id order by filename desc
) = 1;

-- Every event row of every file, typed, with its key: event_id, else GA4's natural key
-- (stg_web__events).
create or replace temp table event_rows as
with typed as (
    select
        ts(event_timestamp) as event_at,
        txt(event_name) as raw_event_name,
        txt(user_pseudo_id) as user_pseudo_id,
        txt(session_id) as session_id,
        txt(event_id) as event_id,
        cast(engagement_time_msec as bigint) as engagement_time_msec,
        lower(txt(source)) as source,
        lower(txt(medium)) as medium,
        cast(page_load_ms as double) as page_load_ms,
        txt(contact_id) as contact_id,
        txt(campaign) as campaign,
        cast(session_number as bigint) as session_number,
        filename
    from ${web_events}
)

select
    coalesce(
        event_id,
        user_pseudo_id || '|' || session_id || '|' || cast(event_at as varchar) || '|'
            || raw_event_name
    ) as event_key,
    event_at,
    lower(raw_event_name) as event_name,
    user_pseudo_id,
    -- GA4's session_id is only unique per visitor
    user_pseudo_id || '|' || session_id as session_key,
    engagement_time_msec,
    source,
    medium,
    page_load_ms,
    contact_id,
    campaign,
    session_number,
    filename
from typed;

-- The later file wins, but almost every key occurs once: a hash aggregate finds the few that
-- occur more often, and only those go through the window (on 7 million events this takes a
-- third of the time of ranking every row).
create or replace temp table events as
with repeated as (
    select event_key from event_rows group by event_key having count(*) > 1
)

select * exclude (filename) from event_rows anti join repeated using (event_key)
union all
select * exclude (filename)
from (select * from event_rows semi join repeated using (event_key))
qualify row_number() over (partition by event_key order by filename desc) = 1;

drop table event_rows;

create or replace temp table contacts as
with typed as (
    select
        txt(contact_id) as contact_id,
        ts(created_at) as created_at,
        lower(txt(first_touch_source)) as first_touch_source,
        lower(txt(first_touch_medium)) as first_touch_medium,
        txt(gclid) as gclid,
        txt(fbclid) as fbclid,
        lower(txt(lead_source)) as lead_source,
        filename
    from ${crm_contacts}
)
select * exclude (filename), cast(created_at as date) as created_date
from typed
qualify row_number() over (partition by contact_id order by filename desc) = 1;

-- Lifecycle entries are only ever reduced to the first entry per step (a min), which the choice
-- among identical (contact, stage, entered_at) keys cannot change: no dedup needed.
create or replace temp table lifecycle as
select
    txt(source.contact_id) as contact_id,
    -- null for a stage the mapping does not know: it counts towards no funnel step
    mapping.stage_order,
    ts(source.entered_at) as entered_at
from ${crm_lifecycle_events} as source
left join lifecycle_stage_mapping as mapping
    on lower(txt(source.stage)) = mapping.crm_stage;

create or replace temp table fx as
with typed as (
    select
        cast(date as date) as rate_date,
        upper(txt(currency)) as currency,
        cast(rate_to_reporting as double) as rate_to_reporting,
        txt(currency) as raw_currency,
        filename
    from ${fx_rates}
)
select rate_date, currency, rate_to_reporting
from typed
qualify row_number() over (partition by rate_date, raw_currency order by filename desc) = 1;

create or replace temp table deals as
with typed as (
    select
        txt(deal_id) as deal_id,
        txt(contact_id) as contact_id,
        ts(created_at) as created_at,
        lower(txt(status)) as status,
        cast(amount as double) as amount,
        upper(txt(currency)) as currency,
        ts(closed_at) as closed_at,
        filename
    from ${crm_deals}
),

latest as (
    select * exclude (filename)
    from typed
    qualify row_number() over (partition by deal_id order by filename desc) = 1
)

-- Amounts at the latest rate on or before the day the deal closed (or was created, while open).
select
    latest.contact_id,
    latest.status,
    latest.closed_at,
    cast(latest.closed_at as date) as closed_date,
    latest.amount * case when latest.currency = 'USD' then 1.0 else fx.rate_to_reporting end
        as amount_reporting
from latest
asof left join fx
    on fx.currency = latest.currency
    and fx.rate_date <= cast(coalesce(latest.closed_at, latest.created_at) as date);

create or replace temp table social as
with typed as (
    select
        lower(txt(platform)) as platform,
        txt(platform) as raw_platform,
        txt(post_id) as post_id,
        cast(snapshot_date as date) as snapshot_date,
        cast(reactions as bigint) as reactions,
        cast(comments as bigint) as comments,
        cast(shares as bigint) as shares,
        filename
    from ${social_posts}
)
select * exclude (filename, raw_platform)
from typed
qualify row_number() over (
    partition by raw_platform, post_id, snapshot_date order by filename desc
) = 1;

-- ------------------------------------------------------------------------- the run's night

create or replace temp table run_context as
with activity as (
    select min(report_date) as first_date, max(report_date) as last_date from ads
    union all
    select min(cast(event_at as date)), max(cast(event_at as date)) from events
    union all
    select min(created_date), max(created_date) from contacts
    union all
    select min(cast(entered_at as date)), max(cast(entered_at as date)) from lifecycle
    union all
    select min(closed_date), max(closed_date) from deals
)
select
    coalesce(try_cast(nullif('${as_of}', '') as date), max(last_date)) as as_of_date,
    min(first_date) as history_start_date
from activity;

create or replace temp table calendar as
select cast(day as date) as period_start
from run_context,
    range(
        history_start_date,
        least(as_of_date, history_start_date + 3999) + 1,
        interval 1 day
    ) as days(day);

-- --------------------------------------------------------------------------- channels

-- Each source/medium pair seen in sessions or CRM first touches, mapped by the most specific
-- row of channel_mapping (lowest priority, exact source before `*`).
create or replace temp table source_medium_channels as
with pairs as (
    select distinct coalesce(source, '(direct)') as source, coalesce(medium, '(none)') as medium
    from events
    union
    select distinct first_touch_source, first_touch_medium
    from contacts
    where first_touch_source is not null and first_touch_medium is not null
)
select pairs.source, pairs.medium, mapping.channel
from pairs
inner join channel_mapping as mapping
    on (mapping.source = pairs.source or mapping.source = '*')
    and (mapping.medium = pairs.medium or mapping.medium = '*')
qualify row_number() over (
    partition by pairs.source, pairs.medium
    order by
        mapping.priority,
        case when mapping.source = '*' then 1 else 0 end,
        case when mapping.medium = '*' then 1 else 0 end
) = 1;

-- One row per session (visitor + session_id); engaged as GA4 defines it.
create or replace temp table sessions as
with grouped as (
    select
        session_key,
        min(user_pseudo_id) as user_pseudo_id,
        min(event_at) as session_start_at,
        max(session_number) as session_number,
        max(campaign) as campaign,
        -- GA4 stamps the session's traffic source on its events; absent means direct
        coalesce(max(source), '(direct)') as source,
        coalesce(max(medium), '(none)') as medium,
        count(*) filter (where event_name = 'page_view') as page_views,
        coalesce(sum(engagement_time_msec), 0) as engagement_time_msec,
        count(*) filter (where event_name = 'generate_lead') as lead_events,
        count(*) filter (where event_name = 'purchase') as purchase_events
    from events
    group by session_key
)
select
    grouped.session_key,
    grouped.user_pseudo_id,
    cast(grouped.session_start_at as date) as session_date,
    coalesce(channels.channel, 'other') as channel,
    grouped.campaign,
    grouped.lead_events,
    (
        grouped.engagement_time_msec >= 10000
        or grouped.page_views >= 2
        or grouped.lead_events > 0
        or grouped.purchase_events > 0
    ) as is_engaged,
    coalesce(grouped.session_number, 1) > 1 as is_returning,
    (
        coalesce(channels.channel, 'other') = 'direct'
        or lower(coalesce(grouped.campaign, '')) like '%brand%'
    ) as is_direct_or_brand
from grouped
left join source_medium_channels as channels
    on grouped.source = channels.source
    and grouped.medium = channels.medium;

-- Each contact's channel: its lead-form session, else a click id, else the CRM's first touch,
-- else its lead source, else unattributed (int_contacts_attributed).
create or replace temp table contacts_attributed as
with lead_forms as (
    select contact_id, session_key
    from events
    where event_name = 'generate_lead' and contact_id is not null
    qualify row_number() over (partition by contact_id order by event_at, event_key) = 1
),

lead_form_sessions as (
    select lead_forms.contact_id, sessions.channel
    from lead_forms
    inner join sessions on lead_forms.session_key = sessions.session_key
)

select
    contacts.contact_id,
    contacts.created_at,
    contacts.created_date,
    coalesce(
        lead_form_sessions.channel,
        case
            when contacts.gclid is not null then 'paid_search'
            when contacts.fbclid is not null then 'paid_social'
        end,
        first_touch.channel,
        lead_sources.channel,
        'unattributed'
    ) as channel
from contacts
left join lead_form_sessions on contacts.contact_id = lead_form_sessions.contact_id
left join source_medium_channels as first_touch
    on contacts.first_touch_source = first_touch.source
    and contacts.first_touch_medium = first_touch.medium
left join lead_source_channels as lead_sources
    on contacts.lead_source = lead_sources.lead_source;

-- ----------------------------------------------------------- daily measures per channel
-- grouping sets give the channel rows and the total row in one pass; a null channel from the
-- second set is the total.

create or replace temp table daily_ads as
with rows as (
    select
        ads.report_date as day,
        coalesce(platforms.channel, 'other') as channel,
        ads.spend * case when ads.currency = 'USD' then 1.0 else fx.rate_to_reporting end
            as spend_reporting,
        ads.impressions,
        ads.clicks,
        -- absent (not zero) when the platform reports none of its parts
        case
            when ads.reactions is null and ads.comments is null and ads.shares is null then null
            else coalesce(ads.reactions, 0) + coalesce(ads.comments, 0) + coalesce(ads.shares, 0)
        end as ad_engagements
    from ads
    asof left join fx
        on fx.currency = ads.currency
        and fx.rate_date <= ads.report_date
    left join platform_channels as platforms
        on lower(ads.raw_platform) = platforms.platform
    where ads.report_date <= (select as_of_date from run_context)
)
select
    day,
    coalesce(channel, 'total') as dimension_value,
    sum(spend_reporting) as spend,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    sum(ad_engagements) as ad_engagements
from rows
group by grouping sets ((day, channel), (day));

create or replace temp table daily_sessions as
select
    session_date as day,
    coalesce(channel, 'total') as dimension_value,
    count(*) as sessions,
    count(*) filter (where is_engaged) as engaged_sessions,
    count(*) filter (where lead_events > 0) as lead_sessions
from sessions
where session_date <= (select as_of_date from run_context)
group by grouping sets ((session_date, channel), (session_date));

-- Page-load p75 over timed page views, dated by the view, with its session's channel, at every
-- grain (int_components__page_load); control_daily takes the day's.
create or replace temp table views as
select cast(events.event_at as date) as day, sessions.channel, events.page_load_ms
from events
inner join sessions on events.session_key = sessions.session_key
where events.event_name = 'page_view' and events.page_load_ms is not null
    and cast(events.event_at as date) <= (select as_of_date from run_context);

-- Nothing reads the events after this: free their memory for the aggregates below.
drop table events;

create or replace temp table page_load as
select
    grain,
    period_start,
    case when channel is null then 'total' else 'channel' end as dimension,
    coalesce(channel, 'total') as dimension_value,
    quantile_cont(page_load_ms, 0.75) as page_load_p75,
    count(*) as timed_page_views
from (
    select 'day' as grain, day as period_start, channel, page_load_ms from views
    union all
    select 'week', week_of(day), channel, page_load_ms from views
    union all
    select 'month', month_of(day), channel, page_load_ms from views
) as graded
group by grouping sets ((grain, period_start, channel), (grain, period_start));

drop table views;

create or replace temp table daily_page_load as
select period_start as day, dimension_value, page_load_p75
from page_load
where grain = 'day';

-- Leads by the day they were created (int_lead_cohorts: contacts created by the night).
create or replace temp table cohorts as
select contact_id, created_date, channel
from contacts_attributed
where created_date <= (select as_of_date from run_context);

create or replace temp table daily_leads as
select created_date as day, coalesce(channel, 'total') as dimension_value, count(*) as leads
from cohorts
group by grouping sets ((created_date, channel), (created_date));

-- MQL, SQL and customers by the day the lead first reached the step (a later step implies the
-- earlier ones; a won deal makes a customer when it closes), won revenue by the day the deal
-- closed (int_funnel_events). Nothing after the night is known on that night.
create or replace temp table daily_funnel as
with entries as (
    select contact_id, stage_order, entered_at from lifecycle where stage_order is not null
    union all
    select contact_id, 5, closed_at from deals where status = 'won' and closed_at is not null
),

steps as (
    select
        contact_id,
        min(entered_at) filter (where stage_order >= 2) as mql_at,
        min(entered_at) filter (where stage_order >= 3) as sql_at,
        min(entered_at) filter (where stage_order >= 5) as customer_at
    from entries
    where cast(entered_at as date) <= (select as_of_date from run_context)
    group by contact_id
),

flows as (
    select cast(steps.mql_at as date) as day, cohorts.channel, 'mql' as step, null as amount
    from cohorts inner join steps using (contact_id) where steps.mql_at is not null
    union all
    select cast(steps.sql_at as date), cohorts.channel, 'sql', null
    from cohorts inner join steps using (contact_id) where steps.sql_at is not null
    union all
    select cast(steps.customer_at as date), cohorts.channel, 'customer', null
    from cohorts inner join steps using (contact_id) where steps.customer_at is not null
    union all
    select
        deals.closed_date,
        coalesce(contacts_attributed.channel, 'unattributed'),
        'won_deal',
        deals.amount_reporting
    from deals
    left join contacts_attributed on deals.contact_id = contacts_attributed.contact_id
    where deals.status = 'won' and deals.closed_date <= (select as_of_date from run_context)
)

select
    day,
    coalesce(channel, 'total') as dimension_value,
    count(*) filter (where step = 'mql') as mql,
    count(*) filter (where step = 'sql') as sql,
    count(*) filter (where step = 'customer') as customers,
    sum(case when step = 'won_deal' then amount else 0 end) as revenue
from flows
where day <= (select as_of_date from run_context)
group by grouping sets ((day, channel), (day));

-- Organic social engagements: the growth of each post's lifetime counters between snapshots
-- (the first snapshot counts whole); published for the total only.
create or replace temp table daily_social as
with deltas as (
    select
        snapshot_date,
        reactions - coalesce(lag(reactions) over post, 0) as reactions_delta,
        comments - coalesce(lag(comments) over post, 0) as comments_delta,
        shares - coalesce(lag(shares) over post, 0) as shares_delta
    from social
    window post as (partition by platform, post_id order by snapshot_date)
)
select
    snapshot_date as day,
    'total' as dimension_value,
    sum(
        coalesce(reactions_delta, 0) + coalesce(comments_delta, 0) + coalesce(shares_delta, 0)
    ) as social_engagements
from deltas
where snapshot_date <= (select as_of_date from run_context)
group by snapshot_date;

-- ------------------------------------------------------------------------ control_daily
-- A measure ever reported for a channel (on any day up to the night) is 0 on the days without
-- it; one never reported stays null (int_metric_components). Each source table is one such
-- series per column, except that a sum over nothing but nulls (ad engagements of a platform
-- that reports none) is no report. The p75 is never filled: no views, no percentile.

create or replace table control_daily as
with ads_seen as (
    select
        dimension_value,
        bool_or(spend is not null) as spend,
        bool_or(impressions is not null) as impressions,
        bool_or(clicks is not null) as clicks,
        bool_or(ad_engagements is not null) as ad_engagements
    from daily_ads
    group by dimension_value
),

sessions_seen as (select distinct dimension_value from daily_sessions),

leads_seen as (select distinct dimension_value from daily_leads),

funnel_seen as (
    select dimension_value, bool_or(revenue is not null) as revenue
    from daily_funnel
    group by dimension_value
),

social_seen as (select distinct dimension_value from daily_social),

dimension_values as (
    select dimension_value from ads_seen
    union select dimension_value from sessions_seen
    union select dimension_value from leads_seen
    union select dimension_value from funnel_seen
    union select dimension_value from social_seen
    union select distinct dimension_value from daily_page_load
),

components as (
    select
        calendar.period_start,
        v.dimension_value,
        coalesce(a.spend, case when ads_seen.spend then 0 end) as spend,
        coalesce(a.impressions, case when ads_seen.impressions then 0 end) as impressions,
        coalesce(a.clicks, case when ads_seen.clicks then 0 end) as clicks,
        coalesce(a.ad_engagements, case when ads_seen.ad_engagements then 0 end)
            as ad_engagements,
        coalesce(s.sessions, case when sessions_seen.dimension_value is not null then 0 end)
            as sessions,
        coalesce(
            s.engaged_sessions, case when sessions_seen.dimension_value is not null then 0 end
        ) as engaged_sessions,
        coalesce(s.lead_sessions, case when sessions_seen.dimension_value is not null then 0 end)
            as lead_sessions,
        coalesce(l.leads, case when leads_seen.dimension_value is not null then 0 end) as leads,
        coalesce(f.mql, case when funnel_seen.dimension_value is not null then 0 end) as mql,
        coalesce(f.sql, case when funnel_seen.dimension_value is not null then 0 end) as sql,
        coalesce(f.customers, case when funnel_seen.dimension_value is not null then 0 end)
            as customers,
        coalesce(f.revenue, case when funnel_seen.revenue then 0 end) as revenue,
        p.page_load_p75,
        coalesce(
            o.social_engagements, case when social_seen.dimension_value is not null then 0 end
        ) as social_engagements
    from calendar
    cross join dimension_values as v
    left join ads_seen on ads_seen.dimension_value = v.dimension_value
    left join sessions_seen on sessions_seen.dimension_value = v.dimension_value
    left join leads_seen on leads_seen.dimension_value = v.dimension_value
    left join funnel_seen on funnel_seen.dimension_value = v.dimension_value
    left join social_seen on social_seen.dimension_value = v.dimension_value
    left join daily_ads as a
        on a.day = calendar.period_start and a.dimension_value = v.dimension_value
    left join daily_sessions as s
        on s.day = calendar.period_start and s.dimension_value = v.dimension_value
    left join daily_leads as l
        on l.day = calendar.period_start and l.dimension_value = v.dimension_value
    left join daily_funnel as f
        on f.day = calendar.period_start and f.dimension_value = v.dimension_value
    left join daily_page_load as p
        on p.day = calendar.period_start and p.dimension_value = v.dimension_value
    left join daily_social as o
        on o.day = calendar.period_start and o.dimension_value = v.dimension_value
)

-- Ratios are ratios of the day's sums; no denominator (or 0) gives no value.
select
    period_start,
    case when dimension_value = 'total' then 'total' else 'channel' end as dimension,
    dimension_value,
    cast(spend as double) as spend,
    cast(impressions as double) as impressions,
    cast(clicks as double) as clicks,
    cast(ad_engagements as double) as ad_engagements,
    cast(clicks as double) / nullif(impressions, 0) as ctr,
    cast(spend as double) / nullif(clicks, 0) as cpc,
    cast(sessions as double) as sessions,
    cast(engaged_sessions as double) as engaged_sessions,
    cast(leads as double) as leads,
    cast(mql as double) as mql,
    cast(sql as double) as sql,
    cast(customers as double) as customers,
    cast(revenue as double) as revenue,
    cast(lead_sessions as double) / nullif(sessions, 0) as session_to_lead_rate,
    cast(mql as double) / nullif(leads, 0) as mql_per_lead,
    cast(sql as double) / nullif(mql, 0) as sql_per_mql,
    cast(customers as double) / nullif(sql, 0) as customers_per_sql,
    cast(spend as double) / nullif(leads, 0) as cpl,
    cast(spend as double) / nullif(customers, 0) as cac,
    cast(revenue as double) / nullif(spend, 0) as roas,
    page_load_p75,
    cast(social_engagements as double) as social_engagements,
    period_start <= (select as_of_date from run_context) as is_complete_period
from components;

-- --------------------------------------------------------------- web components, every grain
-- What int_components__web and int_components__page_load hold: sessions and visitors at day,
-- week and month, in total, per channel and per campaign (page loads: total and channel), in
-- the same long shape. Each grain is counted from the sessions themselves: distinct visitors
-- do not add up over days.
--
-- Distinct visitors are counted the cheap way: a period's sessions are first reduced to one row
-- per dimension value and visitor, whose rows are then counted. Each grain and dimension reads
-- the sessions on its own: on `large` this took 13.5 s, a count(distinct) per grain and
-- dimension 23 s, and the three grains stacked first into one relation 19 s.

create or replace temp view web_sessions as
select
    session_date,
    channel,
    coalesce(campaign, 'unattributed') as campaign,
    user_pseudo_id,
    is_engaged,
    lead_events,
    is_returning,
    is_direct_or_brand
from sessions
where session_date <= (select as_of_date from run_context);

-- one row per period, dimension value and visitor
create or replace temp macro visits(period_of, value_of) as table
select
    period_of as period_start,
    value_of as dimension_value,
    user_pseudo_id,
    count(*) as sessions,
    count(*) filter (where is_engaged) as engaged_sessions,
    count(*) filter (where lead_events > 0) as lead_sessions,
    count(*) filter (where is_direct_or_brand) as direct_brand_sessions,
    bool_or(is_returning) as is_returning
from web_sessions
group by period_of, value_of, user_pseudo_id;

create or replace table web_components as
with visits as (
    select 'day' as grain, 'total' as dimension, * from visits(session_date, 'total')
    union all select 'day', 'channel', * from visits(session_date, channel)
    union all select 'day', 'campaign', * from visits(session_date, campaign)
    union all select 'week', 'total', * from visits(week_of(session_date), 'total')
    union all select 'week', 'channel', * from visits(week_of(session_date), channel)
    union all select 'week', 'campaign', * from visits(week_of(session_date), campaign)
    union all select 'month', 'total', * from visits(month_of(session_date), 'total')
    union all select 'month', 'channel', * from visits(month_of(session_date), channel)
    union all select 'month', 'campaign', * from visits(month_of(session_date), campaign)
),

wide as (
    select
        grain,
        period_start,
        dimension,
        dimension_value,
        cast(sum(sessions) as double) as sessions,
        cast(sum(engaged_sessions) as double) as engaged_sessions,
        cast(sum(lead_sessions) as double) as lead_sessions,
        cast(sum(direct_brand_sessions) as double) as direct_brand_sessions,
        cast(count(*) as double) as visitors,
        cast(count(*) filter (where is_returning) as double) as returning_visitors
    from visits
    group by grain, period_start, dimension, dimension_value
)

unpivot wide
on sessions, engaged_sessions, lead_sessions, direct_brand_sessions, visitors, returning_visitors
into name component value value
union all
unpivot (
    select
        grain,
        period_start,
        dimension,
        dimension_value,
        page_load_p75,
        cast(timed_page_views as double) as timed_page_views
    from page_load
)
on page_load_p75, timed_page_views
into name component value value;
