// One loaded PKCS#11 module (e.g. libsofthsm2.so) per process and path, shared by reference count.
// Invariant: C_Initialize runs once per module and C_Finalize only when the last user lets go — a
// second load of the same library would fail (CKR_CRYPTOKI_ALREADY_INITIALIZED) and an early
// C_Finalize would close every other user's sessions.
using System.Reflection;
using System.Runtime.InteropServices;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace Ironclad.KeyVault.Protection;

internal sealed class Pkcs11Module : IDisposable
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, Shared> Loaded = new(StringComparer.Ordinal);

    private readonly Shared _shared;
    private int _disposed;

    static Pkcs11Module()
    {
        // Pkcs11Interop 5.3 P/Invokes dlopen from "libdl", a name glibc 2.34+ (Debian 12) no longer ships
        // (only libdl.so.2, and dlopen lives in libc itself): point it at the library that exists.
        NativeLibrary.SetDllImportResolver(typeof(Pkcs11InteropFactories).Assembly, ResolveLibdl);
    }

    private Pkcs11Module(Shared shared, string path)
    {
        _shared = shared;
        Path = path;
    }

    public Pkcs11InteropFactories Factories => _shared.Factories;

    public IPkcs11Library Library => _shared.Library;

    /// <summary>The path as the caller gave it (made absolute), for messages.</summary>
    public string Path { get; }

    /// <summary>Loads (or shares) the module at <paramref name="modulePath"/>; dispose the result to let go.</summary>
    /// <exception cref="Pkcs11SetupException">The file is missing or is not a PKCS#11 module.</exception>
    public static Pkcs11Module Acquire(string modulePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modulePath);
        var fullPath = System.IO.Path.GetFullPath(modulePath);
        if (!File.Exists(fullPath))
        {
            throw new Pkcs11SetupException($"the PKCS#11 module '{fullPath}' does not exist");
        }

        var canonical = new FileInfo(fullPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? fullPath;
        lock (Gate)
        {
            if (!Loaded.TryGetValue(canonical, out var shared))
            {
                var factories = new Pkcs11InteropFactories();
                IPkcs11Library library;
                try
                {
                    library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, canonical, AppType.MultiThreaded);
                }
                catch (Exception e) when (e is Pkcs11Exception or UnmanagedException or DllNotFoundException or BadImageFormatException or EntryPointNotFoundException)
                {
                    throw new Pkcs11SetupException($"'{fullPath}' cannot be loaded as a PKCS#11 module: {e.Message}", e);
                }

                shared = new Shared(canonical, factories, library);
                Loaded.Add(canonical, shared);
            }

            shared.References++;
            return new Pkcs11Module(shared, fullPath);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (Gate)
        {
            if (--_shared.References == 0)
            {
                Loaded.Remove(_shared.CanonicalPath);
                _shared.Library.Dispose();
            }
        }
    }

    private static IntPtr ResolveLibdl(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != "libdl")
        {
            return IntPtr.Zero;
        }

        foreach (var candidate in new[] { "libdl.so.2", "libc.so.6", "libdl.so" })
        {
            if (NativeLibrary.TryLoad(candidate, assembly, searchPath, out var handle))
            {
                return handle;
            }
        }

        return IntPtr.Zero;
    }

    private sealed class Shared(string canonicalPath, Pkcs11InteropFactories factories, IPkcs11Library library)
    {
        public string CanonicalPath { get; } = canonicalPath;

        public Pkcs11InteropFactories Factories { get; } = factories;

        public IPkcs11Library Library { get; } = library;

        public int References { get; set; }
    }
}

/// <summary>The PKCS#11 root of trust cannot be used as configured (module, token label or PIN); the message says which and never holds the PIN.</summary>
public sealed class Pkcs11SetupException : Exception
{
    public Pkcs11SetupException()
    {
    }

    public Pkcs11SetupException(string message)
        : base(message)
    {
    }

    public Pkcs11SetupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
