-- Seed data of the original app (seeds/users.ts, seeds/plans.ts) for every benchmark tenant of the
-- directory: USERS users per tenant with the seed's e-mails (user000@t0000.example.com) and names
-- (User 0 of t0000), and the 3 plans. Idempotent: existing users are kept (ON CONFLICT DO NOTHING
-- on the unique e-mail), plans are inserted only into an empty table.
-- psql variables: users (count per tenant), last (highest tenant id, e.g. t0199).
select format(
         $f$insert into %I.users (email, name)
            select 'user' || lpad(i::text, 3, '0') || '@' || %L || '.example.com', 'User ' || i || ' of ' || %L
            from generate_series(0, %s - 1) i
            on conflict do nothing$f$,
         schema_name, id, id, :users)
from public.tenants
where status = 'active' and id ~ '^t[0-9]{4}$' and id <= :'last'
order by id
\gexec

insert into public.plans (name, max_users, price)
select * from (values ('free', '10', '0'), ('pro', '100', '49'), ('enterprise', 'unlimited', '499')) v
where not exists (select 1 from public.plans);

\pset tuples_only on
select count(*) || ' active bench tenants' from public.tenants where status = 'active' and id ~ '^t[0-9]{4}$' and id <= :'last';
select format('select count(*) || %L from %I.users', ' users in ' || schema_name, schema_name)
from public.tenants where id in ('t0000', :'last') order by id
\gexec
select count(*) || ' plans' from public.plans;
