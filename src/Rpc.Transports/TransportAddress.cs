namespace Rpc.Transports;

/// <summary>
/// An endpoint address such as <c>unix:///run/calc.sock</c>: a scheme that picks the transport and
/// a target that the transport interprets.
/// </summary>
public sealed class TransportAddress : IEquatable<TransportAddress>
{
    private TransportAddress(string scheme, string target, bool hasAuthority, string? original)
    {
        Scheme = scheme;
        Target = target;
        HasAuthority = hasAuthority;
        Original = original ?? ToString();
    }

    /// <summary>The lower-case scheme, for example <c>unix</c>.</summary>
    public string Scheme { get; }

    /// <summary>What follows <c>scheme:</c> with any <c>//</c> removed, for example <c>/run/calc.sock</c>.</summary>
    public string Target { get; }

    /// <summary>Whether the address was written with <c>//</c> after the scheme, where a URI puts a host.</summary>
    internal bool HasAuthority { get; }

    /// <summary>The address as the user wrote it, for error messages.</summary>
    internal string Original { get; }

    /// <summary>Parses <paramref name="address"/> without checking that a transport accepts it.</summary>
    /// <exception cref="ArgumentException">The address has no scheme or no target.</exception>
    public static TransportAddress Parse(string address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        var colon = address.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new ArgumentException($"'{address}' is not an Rpc address. {TransportRegistry.AcceptedForms}", nameof(address));
        }

        var scheme = address[..colon].ToLowerInvariant();
        var target = address[(colon + 1)..];
        var hasAuthority = target.StartsWith("//", StringComparison.Ordinal);
        if (hasAuthority)
        {
            target = target[2..];
        }

        if (target.Length == 0)
        {
            throw new ArgumentException($"'{address}' has no target after '{scheme}:'. {TransportRegistry.AcceptedForms}", nameof(address));
        }

        return new TransportAddress(scheme, target, hasAuthority, address);
    }

    /// <summary>Creates an address from its parts.</summary>
    public static TransportAddress Create(string scheme, string target) => new(scheme.ToLowerInvariant(), target, hasAuthority: false, original: null);

    /// <inheritdoc/>
    public override string ToString() => Scheme == "unix" && !Target.StartsWith('/') ? $"unix:{Target}" : $"{Scheme}://{Target}";

    /// <inheritdoc/>
    public bool Equals(TransportAddress? other) => other is not null && Scheme == other.Scheme && Target == other.Target;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as TransportAddress);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Scheme, Target);
}
