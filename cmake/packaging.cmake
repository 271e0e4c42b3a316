# Installation (`cmake --install`) and the Debian package (`cpack -G DEB`).
#
# Layout under the prefix: bin/hoplite, lib/systemd/system/hoplite.service, share/hoplite/ (the
# schema and the examples), share/man/man8/hoplite.8.gz, share/doc/hoplite/. The config goes to
# the system config directory: /etc/hoplite/hoplite.json for the prefix /usr (the package),
# <prefix>/etc/hoplite/hoplite.json otherwise, as GNU's conventions say. It is worked out when
# installing, not when configuring, so that `cmake --install build --prefix /usr` and cpack (which
# installs with the prefix /usr) both put it in /etc whatever prefix the build was configured with.
include(GNUInstallDirs)

install(TARGETS hoplite RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES dist/hoplite.service DESTINATION lib/systemd/system)
install(FILES conf/hoplite.schema.json DESTINATION ${CMAKE_INSTALL_DATADIR}/hoplite)
install(DIRECTORY conf/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/hoplite/examples
        FILES_MATCHING PATTERN "*.json")

install(CODE "set(HOPLITE_DEFAULT_CONFIG \"${CMAKE_CURRENT_SOURCE_DIR}/conf/hoplite.json\")")
install(CODE [[
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(hoplite_config_dir "/etc/hoplite")
  else()
    set(hoplite_config_dir "${CMAKE_INSTALL_PREFIX}/etc/hoplite")
  endif()
  # An existing config is the operator's: an install never replaces it (dpkg does the same for
  # the package, through its conffiles, and asks).
  if(EXISTS "$ENV{DESTDIR}${hoplite_config_dir}/hoplite.json")
    message(STATUS "Keeping: $ENV{DESTDIR}${hoplite_config_dir}/hoplite.json")
  else()
    file(INSTALL DESTINATION "${hoplite_config_dir}" TYPE FILE FILES "${HOPLITE_DEFAULT_CONFIG}")
  endif()
]])

# The man page and the changelog are installed compressed, as Debian's policy wants; -n keeps the
# timestamp out, so that the same sources give the same package.
find_program(GZIP_PROGRAM gzip REQUIRED)
set(HOPLITE_MAN_GZ ${CMAKE_CURRENT_BINARY_DIR}/hoplite.8.gz)
set(HOPLITE_CHANGELOG_GZ ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz)
add_custom_command(OUTPUT ${HOPLITE_MAN_GZ}
                   COMMAND ${GZIP_PROGRAM} -9n -c ${CMAKE_CURRENT_SOURCE_DIR}/dist/hoplite.8 > ${HOPLITE_MAN_GZ}
                   DEPENDS dist/hoplite.8 VERBATIM)
add_custom_command(OUTPUT ${HOPLITE_CHANGELOG_GZ}
                   COMMAND ${GZIP_PROGRAM} -9n -c ${CMAKE_CURRENT_SOURCE_DIR}/dist/changelog > ${HOPLITE_CHANGELOG_GZ}
                   DEPENDS dist/changelog VERBATIM)
add_custom_target(hoplite_docs ALL DEPENDS ${HOPLITE_MAN_GZ} ${HOPLITE_CHANGELOG_GZ})
install(FILES ${HOPLITE_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES dist/copyright ${HOPLITE_CHANGELOG_GZ} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---------------------------------------------------------------------------------------------
# The .deb: hoplite_<version>_<arch>.deb, its library dependencies computed by dpkg-shlibdeps, the
# config a conffile. scripts/package.sh builds it; test/package/ checks it (and runs lintian).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hoplite)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "HTTP/1.1 reverse proxy that forwards WebSocket upgrades")
# The extended description; CPack puts the summary above it and indents every line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "hoplite parses every request strictly, routes it by host and path, removes
hop-by-hop headers, adds X-Forwarded-For, -Proto, -Port and -Host and a
request ID, and forwards Upgrade requests. A connection becomes a raw tunnel
only after the backend answered a valid 101, and every idle timeout is set in
the config. It reloads its config on SIGHUP without closing open tunnels,
writes JSON access logs and serves Prometheus metrics on an admin listener.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "hoplite developers <hoplite@example.org>")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Files 0644 and directories 0755 whatever the umask of whoever builds it.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
    GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_SOURCE_DIR}/dist/conffiles)
include(CPack)
