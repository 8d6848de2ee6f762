using Microsoft.Extensions.Logging;

namespace Rpc.Transports.Diagnostics;

/// <summary>Per-call Debug events, the same on both sides (the logger's category says which side).</summary>
internal static partial class CallLog
{
    [LoggerMessage(300, LogLevel.Debug, "Call {Method} started over {Transport}")]
    public static partial void Started(ILogger logger, string method, string transport);

    [LoggerMessage(301, LogLevel.Debug, "Call {Method} finished: {StatusCode} after {ElapsedMilliseconds} ms")]
    public static partial void Finished(ILogger logger, string method, string statusCode, double elapsedMilliseconds);
}
