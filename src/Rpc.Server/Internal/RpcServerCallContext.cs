using Grpc.Core;

namespace Rpc.Server.Internal;

/// <summary>The <see cref="ServerCallContext"/> handlers see; the call behind it does the work.</summary>
internal sealed class RpcServerCallContext : ServerCallContext
{
    private readonly ServerCall _call;
    private Metadata? _responseTrailers;
    private AuthContext? _authContext;

    public RpcServerCallContext(ServerCall call, string method, string peer, DateTime deadline, Metadata requestHeaders)
    {
        _call = call;
        MethodCore = method;
        PeerCore = peer;
        DeadlineCore = deadline;
        RequestHeadersCore = requestHeaders;
    }

    protected override string MethodCore { get; }

    protected override string HostCore => "localhost";

    protected override string PeerCore { get; }

    protected override DateTime DeadlineCore { get; }

    protected override Metadata RequestHeadersCore { get; }

    protected override CancellationToken CancellationTokenCore => _call.CallCancelled;

    protected override Metadata ResponseTrailersCore => _responseTrailers ??= [];

    protected override Status StatusCore { get; set; }

    protected override WriteOptions? WriteOptionsCore { get; set; }

    protected override AuthContext AuthContextCore => _authContext ??= new AuthContext(null, []);

    /// <summary>The trailers, without creating them when the handler never touched them.</summary>
    internal Metadata? ResponseTrailersIfAny => _responseTrailers;

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("Context propagation tokens are a Grpc.Core feature; pass this context's Deadline and CancellationToken to outgoing calls instead.");

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => _call.WriteResponseHeadersAsync(responseHeaders);
}
