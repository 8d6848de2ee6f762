namespace Rpc.Benchmarks;

/// <summary>The message size limit every stack in the load test is given, on both sides.</summary>
public static class MessageLimits
{
    /// <summary>
    /// Above the 16 MiB echo's message (16 MiB of payload plus a few bytes of protobuf framing), so
    /// that scenario runs on every target; the defaults (4 MiB) would refuse it with ResourceExhausted.
    /// </summary>
    public const int MaxMessageSize = 20 << 20;
}
