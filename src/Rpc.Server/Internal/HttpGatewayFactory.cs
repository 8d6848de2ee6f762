using System.Runtime.CompilerServices;

namespace Rpc.Server.Internal;

/// <summary>
/// The one place that names the Kestrel-backed gateway. Its method is compiled (and so loads
/// ASP.NET) only when it is first called: when a server listens on http(s):// or a local listener
/// first sniffs an HTTP/2 client.
/// </summary>
internal static class HttpGatewayFactory
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static IHttpGateway Create(ServerCallEnvironment environment, IReadOnlyList<HttpListenAddress> addresses, IReadOnlyList<string> localEndpoints) =>
        new Http.KestrelGateway(environment, addresses, localEndpoints);
}
