using Grpc.Core;
using Grpc.Net.Client.Configuration;

namespace Rpc.Client.Internal.Retries;

/// <summary>
/// The retry policy of each method, looked up as grpc-dotnet does: the method's own config, else
/// its service's, else the default one (<see cref="MethodName.Default"/>). Built once from
/// <see cref="RpcChannelOptions.ServiceConfig"/> when the channel is created, and read-only after,
/// so any thread may look up without a lock.
/// </summary>
internal sealed class RetryPolicies
{
    private readonly Dictionary<(string Service, string Method), RetrySettings> _byName = [];
    private RetrySettings? _default;

    private RetryPolicies()
    {
    }

    /// <summary>The policies of <paramref name="options"/>, or null when it retries nothing.</summary>
    /// <exception cref="ArgumentException">A retry policy is incomplete or out of range.</exception>
    /// <exception cref="NotSupportedException">The config asks for hedging or retry throttling.</exception>
    public static RetryPolicies? Create(RpcChannelOptions options)
    {
        if (options.ServiceConfig is not { } config)
        {
            return null;
        }

        if (config.RetryThrottling is not null)
        {
            throw new NotSupportedException("RpcChannel does not support ServiceConfig.RetryThrottling; remove it (retries are still bounded by MaxAttempts and the call's deadline).");
        }

        var policies = new RetryPolicies();
        foreach (var method in config.MethodConfigs)
        {
            if (method.HedgingPolicy is not null)
            {
                throw new NotSupportedException("RpcChannel does not support hedging (MethodConfig.HedgingPolicy); use a RetryPolicy.");
            }

            if (method.RetryPolicy is not { } retry)
            {
                continue;
            }

            var settings = RetrySettings.From(retry, options.MaxRetryAttempts);
            foreach (var name in method.Names)
            {
                if (string.IsNullOrEmpty(name.Service))
                {
                    if (!string.IsNullOrEmpty(name.Method))
                    {
                        throw new ArgumentException($"MethodName with method '{name.Method}' has no service.", nameof(options));
                    }

                    // The first config naming a method wins, as in grpc-dotnet.
                    policies._default ??= settings;
                }
                else
                {
                    policies._byName.TryAdd((name.Service, name.Method ?? string.Empty), settings);
                }
            }
        }

        return policies._default is null && policies._byName.Count == 0 ? null : policies;
    }

    /// <summary>The policy for <paramref name="method"/>, or null when it is not retried.</summary>
    public RetrySettings? Find(IMethod method) =>
        _byName.TryGetValue((method.ServiceName, method.Name), out var exact) ? exact
        : _byName.TryGetValue((method.ServiceName, string.Empty), out var service) ? service
        : _default;
}

/// <summary>A checked, immutable copy of one <see cref="RetryPolicy"/>.</summary>
internal sealed class RetrySettings
{
    private readonly HashSet<StatusCode> _retryable;

    private RetrySettings(int maxAttempts, TimeSpan initialBackoff, TimeSpan maxBackoff, double multiplier, HashSet<StatusCode> retryable)
    {
        MaxAttempts = maxAttempts;
        InitialBackoff = initialBackoff;
        MaxBackoff = maxBackoff;
        BackoffMultiplier = multiplier;
        _retryable = retryable;
    }

    /// <summary>Attempts in all, the first included.</summary>
    public int MaxAttempts { get; }

    public TimeSpan InitialBackoff { get; }

    public TimeSpan MaxBackoff { get; }

    public double BackoffMultiplier { get; }

    public bool IsRetryable(StatusCode code) => _retryable.Contains(code);

    /// <summary>Checks <paramref name="policy"/> as grpc-dotnet does and caps its attempts at <paramref name="maxRetryAttempts"/>.</summary>
    public static RetrySettings From(RetryPolicy policy, int maxRetryAttempts)
    {
        var maxAttempts = policy.MaxAttempts ?? throw Invalid("MaxAttempts is required");
        if (maxAttempts <= 1)
        {
            throw Invalid("MaxAttempts must be greater than 1");
        }

        var initial = policy.InitialBackoff ?? throw Invalid("InitialBackoff is required");
        var max = policy.MaxBackoff ?? throw Invalid("MaxBackoff is required");
        var multiplier = policy.BackoffMultiplier ?? throw Invalid("BackoffMultiplier is required");
        if (initial <= TimeSpan.Zero || max <= TimeSpan.Zero || multiplier <= 0)
        {
            throw Invalid("InitialBackoff, MaxBackoff and BackoffMultiplier must be greater than 0");
        }

        if (policy.RetryableStatusCodes.Count == 0)
        {
            throw Invalid("RetryableStatusCodes must name at least one status code");
        }

        return new RetrySettings(Math.Min(maxAttempts, maxRetryAttempts), initial, max, multiplier, [.. policy.RetryableStatusCodes]);
    }

    private static ArgumentException Invalid(string what) => new($"Invalid RetryPolicy in RpcChannelOptions.ServiceConfig: {what}.");
}
