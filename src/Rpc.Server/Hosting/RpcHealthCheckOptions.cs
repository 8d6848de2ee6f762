namespace Rpc.Server.Hosting;

/// <summary>
/// Which of the registered health checks decide each grpc.health.v1 service name's status. By
/// default the empty name (the whole server) and the full name of every service added through
/// the builder follow every check; <see cref="Map"/> sets a name's checks explicitly.
/// </summary>
public sealed class RpcHealthCheckOptions
{
    /// <summary>The explicit mappings, by service name; a predicate takes a check's name and tags.</summary>
    internal Dictionary<string, Func<string, IEnumerable<string>, bool>> Mappings { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether every service added through the builder gets a name that follows every check (as
    /// the empty name does). Default: true, so a client can ask about the service it calls.
    /// </summary>
    public bool MapAddedServices { get; set; } = true;

    /// <summary>
    /// Makes <paramref name="service"/> (a full name such as <c>calc.Calculator</c>, or empty for the
    /// whole server) follow the checks for which <paramref name="predicate"/>, given a check's name
    /// and tags, is true; the status is NOT_SERVING if one of them is unhealthy, SERVING if
    /// all are healthy or degraded, UNKNOWN when none is selected.
    /// </summary>
    public RpcHealthCheckOptions Map(string service, Func<string, IEnumerable<string>, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(predicate);
        Mappings[service] = predicate;
        return this;
    }
}
