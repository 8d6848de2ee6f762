namespace Rpc.Transports.Diagnostics;

/// <summary>
/// The names Rpc's traces and metrics use, in one place: the <see cref="System.Diagnostics.ActivitySource"/>
/// and <see cref="System.Diagnostics.Metrics.Meter"/> names to subscribe to (for example
/// <c>AddSource("Rpc.Client", "Rpc.Server")</c> and <c>AddMeter("Rpc.Client", "Rpc.Server")</c> in the
/// OpenTelemetry SDK), the instruments, and the attributes, after OpenTelemetry's RPC conventions.
/// </summary>
public static class RpcTelemetry
{
    /// <summary>The client's <c>ActivitySource</c> and <c>Meter</c>.</summary>
    public const string ClientName = "Rpc.Client";

    /// <summary>The server's <c>ActivitySource</c> and <c>Meter</c>.</summary>
    public const string ServerName = "Rpc.Server";

    /// <summary>Histogram, seconds: how long each call took, from start to status.</summary>
    public const string ClientCallDuration = "rpc.client.call.duration";

    /// <summary>Histogram, seconds: how long each call took on the server, from arrival to status.</summary>
    public const string ServerCallDuration = "rpc.server.call.duration";

    /// <summary>Histogram, bytes: the request messages of one call, together.</summary>
    public const string ClientRequestSize = "rpc.client.request.size";

    /// <summary>Histogram, bytes: the response messages of one call, together.</summary>
    public const string ClientResponseSize = "rpc.client.response.size";

    /// <summary>Histogram, bytes: the request messages of one call, together, as the server received them.</summary>
    public const string ServerRequestSize = "rpc.server.request.size";

    /// <summary>Histogram, bytes: the response messages of one call, together, as the server sent them.</summary>
    public const string ServerResponseSize = "rpc.server.response.size";

    /// <summary>Histogram, messages: request messages per call.</summary>
    public const string ClientRequestsPerRpc = "rpc.client.requests_per_rpc";

    /// <summary>Histogram, messages: response messages per call.</summary>
    public const string ClientResponsesPerRpc = "rpc.client.responses_per_rpc";

    /// <summary>Histogram, messages: request messages per call, on the server.</summary>
    public const string ServerRequestsPerRpc = "rpc.server.requests_per_rpc";

    /// <summary>Histogram, messages: response messages per call, on the server.</summary>
    public const string ServerResponsesPerRpc = "rpc.server.responses_per_rpc";

    /// <summary>Up-down counter: calls in progress on the client.</summary>
    public const string ClientActiveCalls = "rpc.client.active_calls";

    /// <summary>Up-down counter: calls in progress on the server.</summary>
    public const string ServerActiveCalls = "rpc.server.active_calls";

    /// <summary>Up-down counter: connections the server holds open.</summary>
    public const string ServerConnections = "rpc.server.connections";

    /// <summary>Up-down counter: connections the client holds open (Rpc transports; HTTP/2 connections are Grpc.Net.Client's).</summary>
    public const string ClientConnections = "rpc.client.connections";

    /// <summary>Attribute: always <see cref="SystemValue"/>.</summary>
    public const string SystemName = "rpc.system.name";

    /// <summary>The value of <see cref="SystemName"/>: the calls are gRPC calls, whatever carries them.</summary>
    public const string SystemValue = "grpc";

    /// <summary>Attribute: <c>package.Service/Method</c>.</summary>
    public const string Method = "rpc.method";

    /// <summary>Attribute: the status code's name, <c>OK</c>, <c>UNAVAILABLE</c>, ...</summary>
    public const string ResponseStatusCode = "rpc.response.status_code";

    /// <summary>Attribute: on failed calls, the status code's name.</summary>
    public const string ErrorType = "error.type";

    /// <summary>Attribute: the address the client called.</summary>
    public const string ServerAddress = "server.address";

    /// <summary>Attribute: the transport's scheme, <c>unix</c>, <c>shm</c>, <c>tcp</c>, ...</summary>
    public const string NetworkTransport = "network.transport";

    /// <summary>The span name for <paramref name="fullMethod"/> (<c>/package.Service/Method</c>): <c>package.Service/Method</c>.</summary>
    public static string SpanName(string fullMethod) => fullMethod.StartsWith('/') ? fullMethod[1..] : fullMethod;

    /// <summary>The status code as gRPC names it (<c>DEADLINE_EXCEEDED</c>), without allocating for the known codes.</summary>
    public static string StatusName(Grpc.Core.StatusCode code) => code switch
    {
        Grpc.Core.StatusCode.OK => "OK",
        Grpc.Core.StatusCode.Cancelled => "CANCELLED",
        Grpc.Core.StatusCode.Unknown => "UNKNOWN",
        Grpc.Core.StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        Grpc.Core.StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        Grpc.Core.StatusCode.NotFound => "NOT_FOUND",
        Grpc.Core.StatusCode.AlreadyExists => "ALREADY_EXISTS",
        Grpc.Core.StatusCode.PermissionDenied => "PERMISSION_DENIED",
        Grpc.Core.StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        Grpc.Core.StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        Grpc.Core.StatusCode.Aborted => "ABORTED",
        Grpc.Core.StatusCode.OutOfRange => "OUT_OF_RANGE",
        Grpc.Core.StatusCode.Unimplemented => "UNIMPLEMENTED",
        Grpc.Core.StatusCode.Internal => "INTERNAL",
        Grpc.Core.StatusCode.Unavailable => "UNAVAILABLE",
        Grpc.Core.StatusCode.DataLoss => "DATA_LOSS",
        Grpc.Core.StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
