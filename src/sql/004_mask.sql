-- hotline111 schema, version 4: the console's caller mask keeps at most 5
-- digits of a number, exactly as log_mask_number() in src/log.c does for
-- the logs (keep the two in step): a leading '+' kept, then of the rest
-- (n characters) the first 3 and the last 2 when n >= 10, the first 2 and
-- the last 2 when n >= 7, the first 2 when n >= 5, nothing when shorter;
-- anything but printable ASCII shows as '*'.

CREATE OR REPLACE FUNCTION h111_mask(caller text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN caller IS NULL THEN NULL
                ELSE regexp_replace(plus || left(rest, head) ||
                                    repeat('*', length(rest) - head - tail) || right(rest, tail),
                                    '[^ -~]', '*', 'g') END
    FROM (SELECT plus, rest,
                 CASE WHEN length(rest) >= 10 THEN 3 WHEN length(rest) >= 5 THEN 2 ELSE 0 END AS head,
                 CASE WHEN length(rest) >= 7 THEN 2 ELSE 0 END AS tail
          FROM (SELECT CASE WHEN left(caller, 1) = '+' THEN '+' ELSE '' END AS plus,
                       CASE WHEN left(caller, 1) = '+' THEN substr(caller, 2) ELSE caller END
                           AS rest) AS split) AS sized
$$;
