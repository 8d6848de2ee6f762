using System.Net;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace Rpc.Server.Http;

/// <summary>Which standard-gRPC peers are on this host, and so may be told the server's local endpoints.</summary>
internal static class LocalPeers
{
    /// <summary>
    /// True for a connection sniffed on one of our Unix sockets (the kernel says who it is) and for
    /// a TCP peer on a loopback address; false for anything else, including a connection sniffed on
    /// a tcp:// listener, whose remote address Kestrel is not told.
    /// </summary>
    public static bool IsLocal(HttpContext context)
    {
        var items = context.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is not null && items.TryGetValue(SniffedConnection.ListenerSchemeKey, out var scheme))
        {
            return scheme is "unix";
        }

        return context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote);
    }
}
