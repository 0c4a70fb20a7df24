-- sessions.ip kept the client's full address. From now on the server stores only
-- its network (server/src/lib/ip.ts): an IPv4 /24 or an IPv6 /48 with the rest
-- zeroed, in CIDR form ('203.0.113.0/24', '2001:db8:abcd::/48'); an IPv4-mapped
-- IPv6 address counts as IPv4. This rewrites the rows written before, with the
-- same rule; what is not an address becomes NULL.
CREATE FUNCTION cm_session_ip_network(p text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  a inet;
BEGIN
  IF p IS NULL THEN RETURN NULL; END IF;
  BEGIN
    a := split_part(btrim(p), '%', 1)::inet;
  EXCEPTION WHEN others THEN
    RETURN NULL;
  END;
  IF family(a) = 6 AND host(a) ~* '^::ffff:[0-9]{1,3}(\.[0-9]{1,3}){3}$' THEN
    a := substr(host(a), 8)::inet;
  END IF;
  IF family(a) = 4 THEN
    RETURN network(set_masklen(a, 24))::text;
  END IF;
  RETURN network(set_masklen(a, 48))::text;
END;
$$;

UPDATE "sessions" SET "ip" = cm_session_ip_network("ip") WHERE "ip" IS NOT NULL;

DROP FUNCTION cm_session_ip_network(text);

COMMENT ON COLUMN "sessions"."ip" IS 'the client network only: IPv4 /24 or IPv6 /48, CIDR text (server/src/lib/ip.ts)';
