using Microsoft.Extensions.Options;

namespace Rpc.Server.Hosting;

/// <summary>The health service names the server answers for, each with the predicate choosing its checks; fixed once the container is built.</summary>
internal sealed class HealthServiceNames
{
    public HealthServiceNames(IOptions<RpcHealthCheckOptions> options, RpcServerRegistrations registrations)
    {
        var all = new Func<string, IEnumerable<string>, bool>((_, _) => true);
        var names = new Dictionary<string, Func<string, IEnumerable<string>, bool>>(StringComparer.Ordinal) { [string.Empty] = all };
        if (options.Value.MapAddedServices)
        {
            foreach (var descriptor in ServiceDescriptors.Of(registrations))
            {
                names[descriptor.FullName] = all;
            }
        }

        foreach (var (name, predicate) in options.Value.Mappings)
        {
            names[name] = predicate;
        }

        Names = names;
    }

    public IReadOnlyDictionary<string, Func<string, IEnumerable<string>, bool>> Names { get; }
}
