using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Rpc.Server.Hosting;

/// <summary>
/// Reads the <c>Rpc:Server</c> configuration section: <c>Addresses</c> (a list) and every scalar
/// setting of <see cref="RpcServerOptions"/> by its property name (<c>MaxReceiveMessageSize</c>,
/// <c>ShutdownTimeout</c> as <c>00:00:05</c>, ...), and those of <see cref="RpcServerOptions.Limits"/>
/// under <c>Limits</c> (<c>Limits:KeepAlivePingDelay</c>, <c>Limits:IdleTimeout</c> as <c>Infinite</c>, ...). It is strict on purpose: a key that names no
/// setting (a typo), a value that does not parse, or a size or timeout below its floor stops the
/// host from starting with a message naming the key, instead of being ignored and leaving the
/// default in force without a word.
/// </summary>
internal static class RpcServerConfiguration
{
    public const string SectionName = "Rpc:Server";
    public const string AddressesKey = "Addresses";

    /// <summary>The sub-section that binds <see cref="RpcServerOptions.Limits"/> (<c>Rpc:Server:Limits:IdleTimeout</c>, ...).</summary>
    public const string LimitsKey = "Limits";

    private static readonly Dictionary<string, PropertyInfo> Settings = ScalarSettings(typeof(RpcServerOptions));

    private static readonly Dictionary<string, PropertyInfo> LimitSettings = ScalarSettings(typeof(Rpc.Transports.ConnectionLimits));

    // Settings whose zero means nothing useful: a 0-byte message limit or a zero timeout would fail every call.
    private static readonly HashSet<string> MustBePositive = new(StringComparer.OrdinalIgnoreCase)
    {
        nameof(RpcServerOptions.MaxSendMessageSize),
        nameof(RpcServerOptions.MaxReceiveMessageSize),
        nameof(RpcServerOptions.HandshakeTimeout),
        nameof(RpcServerOptions.MaxConcurrentCallsPerConnection),
    };

    /// <summary>Sets <paramref name="options"/> from the section's settings.</summary>
    /// <exception cref="InvalidOperationException">A key is unknown or a value is invalid; the message names the key.</exception>
    public static void Bind(IConfiguration configuration, RpcServerOptions options)
    {
        foreach (var child in configuration.GetSection(SectionName).GetChildren())
        {
            if (string.Equals(child.Key, AddressesKey, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (string.Equals(child.Key, LimitsKey, StringComparison.OrdinalIgnoreCase))
            {
                foreach (var limit in child.GetChildren())
                {
                    Set(limit, options.Limits, LimitSettings, "Rpc server's limits");
                }

                continue;
            }

            Set(child, options, Settings, "Rpc server");
        }
    }

    private static void Set(IConfigurationSection setting, object target, Dictionary<string, PropertyInfo> settings, string owner)
    {
        if (!settings.TryGetValue(setting.Key, out var property))
        {
            var extra = ReferenceEquals(settings, Settings) ? $"{AddressesKey}, {LimitsKey} (a section) and " : string.Empty;
            throw new InvalidOperationException(
                $"Configuration key '{setting.Path}' is not a setting of the {owner}; the section takes {extra}{string.Join(", ", settings.Keys.Order(StringComparer.Ordinal))}.");
        }

        if (setting.Value is null)
        {
            throw new InvalidOperationException($"Configuration key '{setting.Path}' must be a single value, not a section.");
        }

        var value = Parse(setting, property.PropertyType);
        try
        {
            property.SetValue(target, value);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is ArgumentException inner)
        {
            throw new InvalidOperationException($"Configuration key '{setting.Path}': '{setting.Value}' is refused: {inner.Message}", inner);
        }
    }

    private static Dictionary<string, PropertyInfo> ScalarSettings(Type type) => type
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite && p.SetMethod!.IsPublic && IsScalar(p.PropertyType))
        .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>The addresses under <c>Rpc:Server:Addresses</c>, each with its key, in order.</summary>
    /// <exception cref="InvalidOperationException">An entry is empty or a section.</exception>
    public static IEnumerable<(string Key, string Address)> ReadAddresses(IConfiguration configuration)
    {
        var section = configuration.GetSection(SectionName).GetSection(AddressesKey);
        if (section.Value is { Length: > 0 } single)
        {
            // "Addresses": "unix:///run/a.sock" (one address, not a list) is too easy to write to refuse.
            yield return (section.Path, single);
            yield break;
        }

        foreach (var child in section.GetChildren())
        {
            if (string.IsNullOrWhiteSpace(child.Value))
            {
                throw new InvalidOperationException($"Configuration key '{child.Path}' must be an address such as unix:///run/app.sock.");
            }

            yield return (child.Path, child.Value);
        }
    }

    private static object Parse(IConfigurationSection setting, Type type)
    {
        var text = setting.Value!;
        var target = Nullable.GetUnderlyingType(type) ?? type;
        object? value = null;
        if (target == typeof(string))
        {
            value = text;
        }
        else if (target == typeof(bool) && bool.TryParse(text, out var flag))
        {
            value = flag;
        }
        else if (target == typeof(int) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && number >= 0)
        {
            value = number;
        }
        else if (target == typeof(long) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var big) && big >= 0)
        {
            value = big;
        }
        else if (target == typeof(double) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && real >= 0 && double.IsFinite(real))
        {
            value = real;
        }
        else if (target == typeof(TimeSpan) && string.Equals(text, "Infinite", StringComparison.OrdinalIgnoreCase))
        {
            // Limits such as IdleTimeout and KeepAlivePingDelay take Timeout.InfiniteTimeSpan for "never".
            value = Timeout.InfiniteTimeSpan;
        }
        else if (target == typeof(TimeSpan) && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero)
        {
            value = span;
        }
        else if (target.IsEnum && Enum.TryParse(target, text, ignoreCase: true, out var member) && Enum.IsDefined(target, member!))
        {
            value = member;
        }

        if (value is null)
        {
            throw new InvalidOperationException($"Configuration key '{setting.Path}': '{text}' is not a valid {Describe(target)}.");
        }

        if (MustBePositive.Contains(setting.Key) && IsZero(value))
        {
            throw new InvalidOperationException($"Configuration key '{setting.Path}' must be greater than zero.");
        }

        return value;
    }

    private static bool IsZero(object value) => value switch
    {
        int i => i == 0,
        long l => l == 0,
        TimeSpan t => t == TimeSpan.Zero,
        _ => false,
    };

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(TimeSpan) => "duration (hh:mm:ss, not negative, or Infinite)",
        _ when type == typeof(bool) => "boolean (true or false)",
        _ when type.IsEnum => $"value ({string.Join(", ", Enum.GetNames(type))})",
        _ => $"non-negative {type.Name}",
    };

    private static bool IsScalar(Type type)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        return target.IsEnum || target == typeof(string) || target == typeof(bool) || target == typeof(int)
            || target == typeof(long) || target == typeof(double) || target == typeof(TimeSpan);
    }
}
