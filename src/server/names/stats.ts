/**
 * RSLV counters (Server/Stats.hs:NameResolverStats; Prometheus simplex_smp_names_*). `reqs` counts every RSLV,
 * `disabled` those answered NO_RESOLVER; each other RSLV ends in exactly one of succ / notFound / resolverErrs.
 */
export class NamesStats {
  reqs = 0;
  succ = 0;
  notFound = 0;
  resolverErrs = 0;
  disabled = 0;
}
