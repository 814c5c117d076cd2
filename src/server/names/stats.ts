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
  /**
   * 1 while the resolver cannot be reached (start-up probe or the last resolution failed to
   * connect): the names role is degraded, messaging is not affected (ours).
   */
  resolverDown = 0;
}
