namespace Rpc.Cli.Reflection;

/// <summary>Where the tool learns a server's services and types: server reflection, or .proto files (--proto).</summary>
internal interface ISchemaSource
{
    /// <summary>The services' full names.</summary>
    Task<IReadOnlyList<string>> ListServicesAsync(CancellationToken cancellationToken);

    /// <summary>Descriptors for the files that define <paramref name="symbol"/> and all they import.</summary>
    Task<SymbolIndex> ResolveAsync(string symbol, CancellationToken cancellationToken);
}
