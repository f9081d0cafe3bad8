# The Debian package (docs/packaging.md): install rules and CPack settings.
#
#   cmake --build build/release --target leasefs leasefs_help_files
#   cpack --config build/release/CPackConfig.cmake -B OUTDIR     -> OUTDIR/leasefs_V_ARCH.deb
#   (`--target package` works too but builds every target first; `cpack -R 0.1.1`
#   overrides the version, which the upgrade test uses)
#
# The package holds the binary, the systemd units, default configuration under
# /etc/leasefs, the man page and bash completion generated from the binary's own help
# at build time (target leasefs_help_files, part of ALL), and the docs. Only the
# component "leasefs" is packaged, so an install() rule elsewhere in the tree cannot
# slip into the .deb.

set(LEASEFS_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(leasefs_help_dir ${PROJECT_BINARY_DIR}/packaging)

# Man page and completion, generated from `leasefs ... --help` (from_help.py walks every
# subcommand; help2man lays out the page around it).
find_program(HELP2MAN help2man)
find_program(LEASEFS_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT LEASEFS_SYSTEM_PYTHON)
  find_program(LEASEFS_SYSTEM_PYTHON python3)
endif()
if(NOT HELP2MAN OR NOT LEASEFS_SYSTEM_PYTHON)
  message(FATAL_ERROR "packaging needs help2man and python3 (packaging/install-deps.sh installs them)")
endif()

set(from_help ${LEASEFS_PACKAGING_DIR}/completion/from_help.py)
set(h2m_static ${LEASEFS_PACKAGING_DIR}/completion/leasefs.h2m)
add_custom_command(
  OUTPUT ${leasefs_help_dir}/leasefs.bash ${leasefs_help_dir}/commands.h2m
  COMMAND ${CMAKE_COMMAND} -E make_directory ${leasefs_help_dir}
  COMMAND ${LEASEFS_SYSTEM_PYTHON} ${from_help} $<TARGET_FILE:leasefs>
          --bash ${leasefs_help_dir}/leasefs.bash --man ${leasefs_help_dir}/commands.h2m
  DEPENDS leasefs ${from_help}
  COMMENT "Generating bash completion and man page commands from leasefs --help"
  VERBATIM)
add_custom_command(
  OUTPUT ${leasefs_help_dir}/leasefs.1.gz
  COMMAND ${HELP2MAN} --no-info --no-discard-stderr
          --name "leased secrets as files, behind a Vault-compatible API"
          --include ${h2m_static} --include ${leasefs_help_dir}/commands.h2m
          --output ${leasefs_help_dir}/leasefs.1 $<TARGET_FILE:leasefs>
  COMMAND gzip -9nf ${leasefs_help_dir}/leasefs.1
  DEPENDS leasefs ${h2m_static} ${leasefs_help_dir}/commands.h2m
  COMMENT "Generating the leasefs(1) man page with help2man"
  VERBATIM)
add_custom_target(leasefs_help_files ALL
  DEPENDS ${leasefs_help_dir}/leasefs.bash ${leasefs_help_dir}/leasefs.1.gz)

# What the package installs. Paths outside the /usr prefix are absolute, as Debian
# places them. server.json holds no secret (TLS keys are separate files) and must be
# readable by the server's user; mount configurations are for root, which runs mounts.
set(component COMPONENT leasefs)
install(TARGETS leasefs RUNTIME DESTINATION bin ${component})
install(FILES ${leasefs_help_dir}/leasefs.1.gz DESTINATION share/man/man1 ${component})
install(FILES ${leasefs_help_dir}/leasefs.bash DESTINATION share/bash-completion/completions
        RENAME leasefs ${component})
install(FILES ${LEASEFS_PACKAGING_DIR}/systemd/leasefs-server.service
              ${LEASEFS_PACKAGING_DIR}/systemd/leasefs-mount@.service
              ${LEASEFS_PACKAGING_DIR}/systemd/leasefs-volume-plugin.service
        DESTINATION /lib/systemd/system ${component})
install(FILES ${LEASEFS_PACKAGING_DIR}/etc/server.json
        DESTINATION /etc/leasefs PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ ${component})
install(FILES ${LEASEFS_PACKAGING_DIR}/etc/mounts/example.json.example
        DESTINATION /etc/leasefs/mounts PERMISSIONS OWNER_READ OWNER_WRITE ${component})
install(FILES ${PROJECT_SOURCE_DIR}/docs/packaging.md ${PROJECT_SOURCE_DIR}/docs/server.md
              ${PROJECT_SOURCE_DIR}/docs/mount.md ${PROJECT_SOURCE_DIR}/docs/volume-plugin.md
        DESTINATION share/doc/leasefs ${component})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME leasefs)
set(CPACK_PACKAGE_VENDOR "leasefs")
set(CPACK_PACKAGE_CONTACT "leasefs maintainers <leasefs@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "leased secrets as files, behind a Vault-compatible API")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "leasefs is a Vault-compatible secrets server and a FUSE mount where opening a file\n"
    "generates a leased secret (database credentials, certificates, tokens), renewed\n"
    "while in use and revoked when it expires.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Component install of the one component, as one package named leasefs (without it,
# CPack would package every install() rule of the tree).
set(CPACK_COMPONENTS_ALL leasefs)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared libraries from dpkg-shlibdeps (dpkg-dev); fuse3 for fusermount3 and
# /etc/fuse.conf; passwd for useradd in postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3, passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${LEASEFS_PACKAGING_DIR}/deb/conffiles ${LEASEFS_PACKAGING_DIR}/deb/postinst
    ${LEASEFS_PACKAGING_DIR}/deb/prerm ${LEASEFS_PACKAGING_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
